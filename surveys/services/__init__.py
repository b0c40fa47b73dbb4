"""Every write of the surveys app: authoring (staff), entries (people taking part), draws."""

from .authoring import (
    QuestionSpec,
    SurveyDetails,
    SurveyError,
    close_survey,
    open_survey,
    save_survey,
    write_invitation,
)
from .draws import draw_winners, verify_draw, winner_contacts
from .entries import ContactDetails, EntryError, submit_entry

__all__ = [
    "ContactDetails",
    "EntryError",
    "QuestionSpec",
    "SurveyDetails",
    "SurveyError",
    "close_survey",
    "draw_winners",
    "open_survey",
    "save_survey",
    "submit_entry",
    "verify_draw",
    "winner_contacts",
    "write_invitation",
]

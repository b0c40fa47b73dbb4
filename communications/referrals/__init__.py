"""Send a wishlist to a friend (the policy's "Send Wishlist Facility").

A logged-in customer gives a friend's name and address, a wishlist and an optional message;
the friend gets one email. The friend's name and address are never stored: the database holds
a ``Referral`` row with an opaque token, the sender and what became of the send, and nothing
of the friend, the message or the wishlist. Those travel to the worker sealed with a key the
broker never holds (``sealing``), inside the Celery message only, which is gone once the email
has gone or failed. The token in the email's links counts clicks and the sign-ups after them
(``ReferralEvent``), for the staff's report. See docs/COMMUNICATIONS.md, "Send a wishlist".
"""

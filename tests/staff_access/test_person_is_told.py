"""A person's copy of their data and /my-data/ say how many times staff accessed their data,
when and in which role, never who."""

from __future__ import annotations

import json

from tests.harness.http import logged_in, text
from tests.staff_access.conftest import SUPPORT

USERS = "/admin/accounts/user/"


def test_the_copy_and_my_data_count_each_access_with_its_role_not_the_name(customers, support):
    ann = customers[0]
    agent = logged_in(support)
    agent.get(f"{USERS}{ann.pk}/change/")  # Ann's record
    agent.get(USERS)  # a list that shows Ann among others
    agent.get(f"{USERS}{customers[1].pk}/change/")  # someone else's
    ann.emailaddress_set.create(email=ann.email, verified=True, primary=True)
    me = logged_in(ann)

    copy = json.loads(me.get("/accounts/export/?format=json").content)
    page = text(me.get("/accounts/export/"))
    my_data = text(me.get("/my-data/"))

    section = copy["staff_access"]
    assert section["times_accessed"] == 2
    assert [access["what"] for access in section["accesses"]] == [
        "Viewed a list",
        "Viewed a record",
    ]
    assert {access["role"] for access in section["accesses"]} == {SUPPORT}
    assert "first name" in section["accesses"][1]["data"]
    for shown in (page, my_data):
        assert "accessed your data 2 times" in shown
        assert SUPPORT in shown
        assert "sam@jessops.example" not in shown


def test_nobody_accessed_is_said_too(customers):
    my_data = text(logged_in(customers[0]).get("/my-data/"))
    assert "accessed your data 0 times" in my_data

"""Policy-change notice benchmark (``make bench``): a practice-change notice (kind
``policy_change``) to ``BENCH_NOTICE_SUBJECTS`` subjects (default ``BENCH_SUBJECTS``, else
1,000,000) on real workers, beside the campaign benchmark and with its seeding, workers, sink
and sampling (``test_communications_bench``).

The notice goes to people opted in to communications who are not gone, with the gate
re-checking that audience at send time: the sink must receive exactly the opted-in, active,
unsuppressed subjects. In the same run, on the same subjects and workers, the campaign
benchmark's newsletter is sent after it; both are timed from ``send_campaign_now`` to
*completed*, and the notice must go at no less than 0.9 of the newsletter's rate (from 100,000
subjects; a smaller run checks the audience and memory only). The absolute target (5,000 a
second) is the campaign benchmark's. Figures are printed and written to
var/bench/communications.json (case ``policy_notice``); a smaller run for a check:
``BENCH_NOTICE_SUBJECTS=20000``.
"""

from __future__ import annotations

import os

import pytest

from communications.models import Campaign
from communications.services import create_campaign
from communications.services.policy_changes import _notice_body
from consent.services import current_policy_version
from tests.benchmarks import test_communications_bench as campaign_bench
from tests.benchmarks.test_communications_bench import bench_env, sink_redis  # noqa: F401
from tests.harness import anymail_sink

pytestmark = pytest.mark.bench

SUBJECTS = int(os.environ.get("BENCH_NOTICE_SUBJECTS", os.environ.get("BENCH_SUBJECTS", "1000000")))
# Below this, starting the workers and the first batches dominate the time: a smaller run
# checks the audience and the memory, not the rate.
RATE_CHECKED_FROM = 100_000


def _notice(name: str) -> Campaign:
    """The notice ``publish_policy_change`` starts for a practice change, on its body."""
    version = current_policy_version()
    return create_campaign(
        actor=None,
        name=name,
        kind="policy_change",
        subject_line=f"Our privacy policy has changed (version {version.number})",
        body=_notice_body(version),
        notice=True,
    )


def test_a_practice_change_notice_goes_at_the_campaign_rate(
    transactional_db,
    bench_env,  # noqa: F811 - the campaign benchmark's fixtures
    sink_redis,  # noqa: F811
    monkeypatch,
):
    # given subjects in the campaign benchmark's mix (opted in, withdrew, never asked,
    # deactivated, suppressed)
    seeded = campaign_bench._seed(SUBJECTS)
    env = {**bench_env, "EMAIL_BACKEND": campaign_bench.SINK_BACKEND, "EMAIL_BATCH_SEND": "true"}

    def received() -> int:
        return anymail_sink.counts(sink_redis)["recipients"]

    # when the notice is sent, and then, in the same run on the same subjects, the campaign
    # benchmark's newsletter (the notice goes first: the second run has the warmer caches)
    with monkeypatch.context() as patched:
        patched.setattr(campaign_bench, "_campaign", _notice)
        notice = campaign_bench._run_campaign(
            env=env, label="notice", expected=seeded["expected_recipients"], received=received
        )
    notice["sink"] = anymail_sink.counts(sink_redis)
    anymail_sink.reset(sink_redis)
    newsletter = campaign_bench._run_campaign(
        env=env, label="newsletter", expected=seeded["expected_recipients"], received=received
    )
    newsletter["sink"] = anymail_sink.counts(sink_redis)
    ratio = notice["recipients_per_second"] / newsletter["recipients_per_second"]
    campaign_bench._write(
        "policy_notice",
        {
            **seeded,
            "ours": notice,
            "campaign_path": newsletter,
            "notice_to_campaign_rate": round(ratio, 2),
            "target_recipients_per_second": campaign_bench.BATCH_TARGET,
            "max_rss_mb": campaign_bench._max_rss(notice),
        },
    )

    # then exactly the opted-in, active, unsuppressed subjects got the notice, in memory
    campaign_bench._check_campaign(notice, seeded, notice["sink"]["recipients"])
    campaign_bench._check_campaign(newsletter, seeded, newsletter["sink"]["recipients"])
    assert campaign_bench._max_rss(notice) <= campaign_bench.RSS_LIMIT_MB, notice["processes"]
    # and at the campaign path's rate (the absolute target is the campaign benchmark's to meet)
    if SUBJECTS >= RATE_CHECKED_FROM:
        assert ratio >= 0.9, (notice, newsletter)

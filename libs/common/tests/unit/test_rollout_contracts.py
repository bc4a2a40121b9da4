"""Shadow records, rollout state, live statistics and the promotion gate."""

from __future__ import annotations

import pytest

from mlops_common.live_stats import shadow_ids, shadow_stats, version_stats
from mlops_common.promotion import GateRule, LiveEvidence, decide
from mlops_common.rollout import Probation, RolloutDecision, RolloutState
from mlops_common.shadow import (
    ShadowDecodeError,
    ShadowRecord,
    decode_batch,
    encode_batch,
    next_page,
    prediction_ids,
    shadow_stream,
)


def _record(request_id: str, prod: list[int], cand: list[int], **kw: object) -> ShadowRecord:
    values: dict[str, object] = {
        "request_id": request_id,
        "production_version": "1",
        "candidate_version": "2",
        "production_labels": prod,
        "production_confidences": [0.9] * len(prod),
        "candidate_labels": cand,
        "candidate_confidences": [0.6] * len(cand),
        "production_ms": 0.5,
        "candidate_ms": 0.7,
    }
    values.update(kw)
    return ShadowRecord(**values)  # type: ignore[arg-type]


def test_prediction_ids_of_one_and_many_rows() -> None:
    assert prediction_ids("abc", 1) == ["abc"]
    assert prediction_ids("abc", 3) == ["abc.0", "abc.1", "abc.2"]
    assert shadow_stream("news") == "shadow:news"


def test_a_batch_of_records_round_trips_through_one_entry_of_bytes_fields() -> None:
    batch = [
        _record("r1", [1, 2], [1, 3], timestamp=12.5, production_ms=0.25),
        _record("r2", [4], [5], timestamp=12.0),
        _record("", [6, 7, 8], [6, 7, 9], timestamp=11.0),  # a request sent without an id
    ]
    fields = {k.encode(): v.encode() for k, v in encode_batch(batch).items()}
    assert fields[b"ids"] == b"r1,r2,"
    assert fields[b"rows"] == b"2,1,3"
    decoded = decode_batch(fields)
    assert [r.request_id for r in decoded] == ["r1", "r2", ""]
    assert [r.rows for r in decoded] == [2, 1, 3]
    assert [list(r.candidate_labels) for r in decoded] == [[1, 3], [5], [6, 7, 9]]
    assert decoded[0].candidate_confidences[0] == pytest.approx(0.6)
    assert [r.production_ms for r in decoded] == [0.25, 0.5, 0.5]
    assert {(r.production_version, r.candidate_version, r.candidate_ms) for r in decoded} == {
        ("1", "2", 0.7)
    }
    assert decoded[0].prediction_ids() == ["r1.0", "r1.1"]
    assert {r.timestamp for r in decoded} == {12.5}  # the entry's time: its newest record's
    one = decode_batch(encode_batch([_record("solo", [3], [3])]))
    assert [(r.request_id, list(r.production_labels)) for r in one] == [("solo", [3])]


def test_a_batch_holds_one_candidate_run_and_ids_without_the_separator() -> None:
    with pytest.raises(ValueError, match="at least one"):
        encode_batch([])
    with pytest.raises(ValueError, match="share production_version"):
        encode_batch([_record("a", [1], [1]), _record("b", [1], [1], candidate_ms=9.0)])
    with pytest.raises(ValueError, match="share production_version"):
        encode_batch([_record("a", [1], [1]), _record("b", [1], [1], production_version="0")])
    with pytest.raises(ValueError, match="may not hold ','"):
        encode_batch([_record("a,b", [1], [1])])


def test_shadow_record_refuses_ragged_rows_and_decode_names_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="same number"):
        _record("r", [1, 2], [1])
    good = encode_batch([_record("a", [1, 2], [1, 2]), _record("b", [3], [3])])
    cases = {
        "candidate_labels": ("1,x,3", "'candidate_labels' is not integers"),
        "production_confidences": ("0.9,0.9", "'production_confidences' holds 2 values for 3 rows"),
        "rows": ("2", "2 ids but 1 row counts"),
        "production_ms": ("0.5", "1 production_ms values"),
        "ts": ("not a time", "'ts' is not a number"),
    }
    for name, (value, message) in cases.items():
        with pytest.raises(ShadowDecodeError, match=message):
            decode_batch({**good, name: value})
    with pytest.raises(ShadowDecodeError, match="fewer than 1 row"):
        decode_batch({**good, "rows": "3,0"})
    for name in ("ids", "candidate_ms", "production_version"):
        with pytest.raises(ShadowDecodeError, match=f"lacks field '{name}'"):
            decode_batch({k: v for k, v in good.items() if k != name})
    with pytest.raises(ShadowDecodeError, match="lacks field"):  # the one-record-per-entry layout
        decode_batch({"id": "r", "ts": "1.0", "production_labels": "1"})


def test_next_page_reads_about_the_entries_still_needed() -> None:
    assert next_page(5000, 0, 0) == 313  # nothing read yet: a sixteenth
    assert next_page(4000, 313, 1000) == 1252  # about 3.2 records an entry
    assert next_page(10, 0, 0) == 1
    assert next_page(0, 5, 50) == 0


def test_shadow_stats_score_both_models_on_the_same_labelled_rows() -> None:
    records = [
        _record("a", [1], [1]),
        _record("b", [2, 3], [2, 0]),
        _record("c", [4], [4], candidate_version="9"),  # another candidate: ignored
    ]
    truths = {"a": 1, "b.1": 0}
    stats = shadow_stats(records, truths, production="1", candidate="2")
    assert (stats.requests, stats.rows) == (2, 3)
    assert stats.agreement == pytest.approx(2 / 3)
    assert stats.production.labelled == 2
    assert stats.production.accuracy == 0.5
    assert stats.candidate.accuracy == 1.0
    assert stats.candidate.mean_confidence == pytest.approx(0.6)
    assert stats.as_dict()["candidate"]["p99_ms"] == pytest.approx(0.7)  # type: ignore[index]
    assert shadow_ids(records[:2]) == ["a", "b.0", "b.1"]


def test_version_stats_without_labels_or_rows() -> None:
    empty = version_stats("1", [], [], [], [])
    assert empty.accuracy is None
    assert empty.mean_confidence is None
    assert empty.p99_ms is None
    some = version_stats("1", [1, 2], [0.5, 1.0], [None, None], [1.0, 3.0])
    assert some.labelled == 0
    assert some.accuracy is None
    assert some.p50_ms == 2.0


def test_rollout_state_decodes_fields_and_ignores_malformed_ones() -> None:
    probation = Probation(version="3", previous="2", started=10.0, until=20.0)
    state = RolloutState.from_fields(
        {
            b"shadow": b"on",
            b"shadow_share": b"0.25",
            b"pinned": b"2",
            b"probation": probation.model_dump_json().encode(),
            b"production": b"3",
        }
    )
    assert state.share(1.0) == 0.25
    assert state.pinned == "2"
    assert state.production == "3"
    assert state.probation == probation
    assert state.probation.active(15.0)
    assert not state.probation.active(20.0)
    bad = RolloutState.from_fields({"shadow_share": "7", "probation": "{", "shadow": "off"})
    assert bad.shadow_share is None
    assert bad.probation is None
    assert bad.share(1.0) == 0.0
    assert RolloutState.from_fields({}).share(0.5) == 0.5


def test_decision_log_entry_rejects_unknown_actions() -> None:
    entry = RolloutDecision(action="rolled_back", version="3", previous="2", reason="worse")
    assert RolloutDecision.model_validate_json(entry.model_dump_json()) == entry
    with pytest.raises(ValueError):
        RolloutDecision(action="exploded")  # type: ignore[arg-type]


RULE = GateRule(margin=0.0, live_margin=0.0, min_shadowed=100, min_labelled=20)


def test_gate_refuses_a_candidate_worse_offline_whatever_the_live_evidence() -> None:
    live = LiveEvidence(shadowed=500, labelled=100, candidate_accuracy=1.0, production_accuracy=0.5)
    verdict = decide(0.90, 0.95, RULE, live)
    assert not verdict.promote
    assert not verdict.waiting
    assert "offline" in verdict.reason


def test_gate_refuses_better_offline_but_worse_live() -> None:
    live = LiveEvidence(shadowed=500, labelled=100, candidate_accuracy=0.7, production_accuracy=0.9)
    verdict = decide(0.99, 0.95, RULE, live)
    assert not verdict.promote
    assert "live: candidate 0.7000 < production 0.9000" in verdict.reason


def test_gate_promotes_better_on_both() -> None:
    live = LiveEvidence(
        shadowed=500, labelled=100, candidate_accuracy=0.95, production_accuracy=0.9
    )
    verdict = decide(0.99, 0.95, RULE, live)
    assert verdict.promote
    assert "100 labelled of 500 shadowed" in verdict.reason


def test_gate_waits_for_evidence_when_required_or_without_an_offline_figure() -> None:
    short = LiveEvidence(shadowed=50, labelled=5, candidate_accuracy=1.0, production_accuracy=0.5)
    assert decide(0.99, 0.95, RULE, short).promote  # offline alone is allowed
    strict = GateRule(min_shadowed=100, min_labelled=20, require_live=True)
    waiting = decide(0.99, 0.95, strict, short)
    assert waiting.waiting
    assert not waiting.promote
    assert "50/100 shadowed" in waiting.reason
    assert decide(None, 0.95, RULE, None).waiting
    assert decide(0.5, None, RULE).promote  # no production yet


def test_outcome_counters_parse_per_version() -> None:
    from mlops_common.rollout import outcome_field, outcomes_key, parse_outcomes

    assert outcomes_key("news") == "outcomes:news"
    assert outcome_field("3", failed=True) == "3:error"
    fields = {b"3:ok": b"10", b"3:error": b"2", b"4:ok": b"5", b"junk": b"1", b"4:error": b"x"}
    assert parse_outcomes(fields) == {"3": (10, 2), "4": (5, 0)}

"""What the Predict page shows after a prediction, whatever the input kind: the class names with
their probabilities, and the feedback form that sends the true class's name."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import altair as alt
import pandas as pd
import streamlit as st

from mlops_frontend import ui
from mlops_frontend.api import PredictedInstance, Predictions, ServedModel

RESULT_KEY = "predict_result"


def classes_of(model: ServedModel, answer: Predictions | None = None) -> list[str]:
    """The class names in output order: the spec's, else the indices the answer implies."""
    if model.spec is not None:
        return model.spec.classes
    width = len(answer.first.probabilities) if answer is not None else 0
    return [str(index) for index in range(width)]


def predict_button(
    model: ServedModel, digest: str, call: Callable[[], Predictions], label: str = "Predict"
) -> Predictions | None:
    """The action button (``label``, key ``predict_button``); the answer is kept for this model
    and input (``digest``) until either changes, so the feedback form survives its own rerun."""
    stored = st.session_state.get(RESULT_KEY)
    answer = stored[2] if stored and stored[:2] == (model.name, digest) else None
    if st.button(label, type="primary", key="predict_button"):
        answer = ui.fetch(call)
        st.session_state[RESULT_KEY] = (model.name, digest, answer) if answer else None
    return answer


def forget() -> None:
    """Drop the kept answer (the input was cleared)."""
    st.session_state.pop(RESULT_KEY, None)


def probability_chart(instance: PredictedInstance, classes: Sequence[str], noun: str) -> alt.Chart:
    """A bar per class, the predicted one highlighted."""
    names = list(classes)[: len(instance.probabilities)]
    names += [str(i) for i in range(len(names), len(instance.probabilities))]
    frame = pd.DataFrame(
        {
            noun: names,
            "probability": instance.probabilities,
            "predicted": [name == instance.label for name in names],
        }
    )
    chart: alt.Chart = (
        alt.Chart(frame, title=f"Probability of each {noun}")
        .mark_bar()
        .encode(
            x=alt.X(f"{noun}:N", sort=None, axis=alt.Axis(labelAngle=0), title=noun.capitalize()),
            y=alt.Y("probability:Q", scale=alt.Scale(domain=[0, 1]), title="Probability"),
            color=alt.condition(alt.datum.predicted, alt.value("#4F46E5"), alt.value("#CBD5E1")),
            tooltip=[noun, alt.Tooltip("probability:Q", format=".3f")],
        )
        .properties(height=260)
    )
    return chart


def probability_table(
    instance: PredictedInstance, classes: Sequence[str], noun: str = "class"
) -> pd.DataFrame:
    """Each class's name and probability (as a percentage), the likeliest first."""
    names = list(classes)[: len(instance.probabilities)]
    names += [str(i) for i in range(len(names), len(instance.probabilities))]
    ranked = sorted(zip(names, instance.probabilities, strict=True), key=lambda pair: -pair[1])
    return pd.DataFrame(
        {
            noun.capitalize(): [name for name, _ in ranked],
            "Probability": [f"{p:.1%}" for _, p in ranked],
        }
    )


def show(
    answer: Predictions, classes: Sequence[str], noun: str = "class", table: bool = False
) -> None:
    """One instance as metrics and a chart (with ``table``, beside the table of each class's
    probability); several as a table of class names and probabilities, then the chart of the
    first."""
    chart = probability_chart(answer.first, classes, noun)
    if len(answer.predictions) == 1:
        label, confidence, version = st.columns(3)
        label.metric(f"Predicted {noun}", answer.first.label)
        confidence.metric("Confidence", f"{answer.first.confidence:.1%}")
        version.metric("Model version", ui.version_label(answer.model_version))
        if table:
            left, right = st.columns([3, 2])
            left.altair_chart(chart, width="stretch")
            right.table(probability_table(answer.first, classes, noun), hide_index=True)
        else:
            st.altair_chart(chart, width="stretch")
    else:
        st.dataframe(_table(answer, classes), hide_index=True, width="stretch")
        st.altair_chart(chart, width="stretch")
    ids = ", ".join(f"`{p.id}`" for p in answer.predictions[:3])
    more = f" and {len(answer.predictions) - 3} more" if len(answer.predictions) > 3 else ""
    st.caption(
        f"Prediction id {ids}{more} · model `{answer.model_name}` "
        f"{ui.version_label(answer.model_version)}"
    )


def _table(answer: Predictions, classes: Sequence[str]) -> pd.DataFrame:
    rows = []
    for number, instance in enumerate(answer.predictions, start=1):
        row: dict[str, object] = {
            "Instance": number,
            "Prediction": instance.label,
            "Confidence": instance.confidence,
        }
        row |= {f"p({name})": p for name, p in zip(classes, instance.probabilities, strict=False)}
        rows.append(row)
    return pd.DataFrame(rows)


def feedback(answer: Predictions, classes: Sequence[str], noun: str = "class") -> None:
    """Send the true class, by name, for one predicted instance."""
    st.subheader("Was it right?")
    with st.form("feedback_form", border=False):
        number = 0
        if len(answer.predictions) > 1:
            number = st.selectbox(
                "Instance",
                options=range(len(answer.predictions)),
                format_func=lambda i: f"#{i + 1}: {answer.predictions[i].label}",
                key="feedback_instance",
            )
        instance = answer.predictions[number or 0]
        names = list(classes)
        predicted = names.index(instance.label) if instance.label in names else 0
        truth = st.selectbox(f"True {noun}", options=names, index=predicted, key="feedback_label")
        sent = st.form_submit_button("Send feedback")
    if sent and truth is not None:
        instance = answer.predictions[number or 0]
        with ui.guarded():
            ui.client().send_feedback(instance.id, str(truth))
            verdict = "confirmed" if truth == instance.label else "corrected"
            st.success(
                f"Thanks — {noun} {truth} recorded ({verdict}) for prediction {instance.id}."
            )

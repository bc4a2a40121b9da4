"""The page of a text model (for the ``news`` task, the News page), driven by Streamlit's AppTest
against the contract stand-in (see this folder's ``conftest.py``): paste an article, classify it,
see the class and each class's probability by name, send the true class by name; a text over the
page's limit is refused before any call, and the gateway's own refusal shows its message."""

from __future__ import annotations

from typing import Any

import pytest

from .apptest_text import metric, open_app, texts
from .served import NEWS_CLASSES

Contract = Any  # conftest.ContractGateway (conftest modules are not importable by name)
NEWS = "news-classifier"
TEXT_KEY = f"predict_text_{NEWS}"
ARTICLE = "The football match ended with a late goal"


def test_the_news_page_classifies_an_article_and_takes_the_true_class_by_name(
    contract: Contract,
) -> None:
    app = open_app(NEWS)
    assert app.title[0].value == "News"
    shown = texts(app)
    assert f"Model `{NEWS}` classifies news articles into one of: world, sports" in shown
    assert "Paste or type an article, then press Classify." in shown
    assert app.text_area(key=TEXT_KEY).label == "Article"
    assert not [b for b in app.button if b.key == "predict_button"], "nothing to classify yet"

    app.text_area(key=TEXT_KEY).set_value(f"  {ARTICLE}\n").run()
    assert f"{len(ARTICLE)} / 20,000 characters" in texts(app)
    button = app.button(key="predict_button")
    assert button.label == "Classify"
    button.click().run()
    assert not app.error, texts(app)
    assert contract.sent("POST", f"/v1/models/{NEWS}/predict") == [{"texts": [ARTICLE]}]
    assert metric(app, "Predicted class") == "sports"
    assert metric(app, "Confidence") == "80.0%"
    assert metric(app, "Model version") == "v1"

    table = app.table[0].value  # each class by name, the likeliest first
    assert list(table.columns) == ["Class", "Probability"]
    assert list(table["Class"]) == ["sports", "world", "business", "science"]
    assert list(table["Probability"]) == ["80.0%", "6.7%", "6.7%", "6.7%"]
    chart = app.get("vega_lite_chart")[-1].proto
    assert "Probability of each class" in chart.spec
    assert all(name.encode() in chart.SerializeToString() for name in NEWS_CLASSES)

    feedback = app.selectbox(key="feedback_label")
    assert feedback.options == NEWS_CLASSES
    assert feedback.value == "sports"  # the predicted class is the default choice
    app.button[-1].click().run()  # the form's submit button
    assert "class sports recorded (confirmed)" in texts(app), texts(app)
    assert contract.sent("POST", "/v1/feedback") == [{"id": f"{NEWS}-p0", "label": "sports"}]

    app.selectbox(key="feedback_label").set_value("world")
    app.button[-1].click().run()
    assert "class world recorded (corrected)" in texts(app), texts(app)
    assert contract.sent("POST", "/v1/feedback")[-1] == {"id": f"{NEWS}-p0", "label": "world"}


def test_a_text_over_the_pages_limit_is_refused_before_any_call(contract: Contract) -> None:
    app = open_app(NEWS)
    app.text_area(key=TEXT_KEY).set_value("goal " * 4_000 + "x").run()  # 20,001 characters
    assert not app.exception
    assert len(app.error) == 1
    message = app.error[0].value
    assert "This article is too long" in message
    assert "20,001 characters; the limit is 20,000" in message
    assert not [b for b in app.button if b.key == "predict_button"]
    assert not contract.sent("POST", f"/v1/models/{NEWS}/predict")


def test_the_gateways_refusal_of_a_long_text_is_a_message_not_a_traceback(
    contract: Contract, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRONTEND_MAX_TEXT_CHARS", "500")  # above the gateway's: a misconfiguration
    contract.max_text_chars = 100
    app = open_app(NEWS)
    app.text_area(key=TEXT_KEY).set_value("match " * 30).run()
    app.button(key="predict_button").click().run()
    assert not app.exception
    assert len(app.error) == 1
    message = app.error[0].value
    assert "Too large for the gateway" in message
    assert "text 0 has 179 characters; the limit is 100 (GATEWAY_MAX_TEXT_CHARS)" in message
    assert not app.metric, "no result is shown"


def test_a_text_model_of_another_task_is_titled_by_what_it_does(contract: Contract) -> None:
    contract.models[NEWS]["spec"]["task"] = "tickets"
    app = open_app(NEWS)
    assert app.title[0].value == "Classify text"
    assert f"Model `{NEWS}` classifies text into one of: world" in texts(app)
    assert app.text_area(key=TEXT_KEY).label == "Text"
    app.text_area(key=TEXT_KEY).set_value("a printer match").run()
    app.button(key="predict_button").click().run()
    assert metric(app, "Predicted class") == "sports"

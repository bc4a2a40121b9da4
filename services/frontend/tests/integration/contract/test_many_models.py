"""The pages for many models, driven by Streamlit's AppTest against a real HTTP server that
answers the gateway's many-models contract (see this folder's ``conftest.py``): the picker, a
features model's table, the registry page, retraining refused for an imported model, and the
drift page before a first check (the text model's page: ``test_news_page.py``)."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_common.testing.servers import free_port

from .apptest_text import metric, open_app, texts

Contract = Any  # conftest.ContractGateway (conftest modules are not importable by name)
IRIS = "iris-classifier"
DIGITS = "digits-classifier"
NEWS = "news-classifier"


def test_picker_lists_the_served_models_defaults_and_switches(contract: Contract) -> None:
    app = open_app()
    picker = app.selectbox(key="model_picker")
    assert picker.value == DIGITS  # the gateway's default
    assert [option.split()[0] for option in picker.options] == [DIGITS, IRIS, NEWS]
    assert "(default)" in picker.options[0]
    assert app.title[0].value == "Predict a digit"

    picker.set_value(IRIS).run()
    assert app.title[0].value == "Predict"
    assert "setosa, versicolor, virginica" in texts(app)
    assert "4 numbers in 0…10 per instance" in texts(app)

    # the pick is remembered on every page, which reads that model's routes
    app.switch_page("views/model.py").run()
    assert app.title[0].value == f"Model `{IRIS}`"
    app.switch_page("views/drift.py").run()
    assert app.title[0].value == f"Drift of `{IRIS}`"
    assert contract.sent("GET", f"/v1/models/{IRIS}")
    assert contract.sent("GET", f"/v1/models/{IRIS}/drift")


def test_a_model_that_is_not_ready_shows_its_reason(contract: Contract) -> None:
    contract.models[NEWS] |= {"ready": False, "reason": "loading: the ONNX file is 2 GB"}
    app = open_app(NEWS)
    assert "not ready" in app.selectbox(key="model_picker").options[2]
    assert "loading: the ONNX file is 2 GB" in texts(app)
    assert not app.error
    assert not app.button, "no Predict button for a model that cannot answer"


def test_features_model_predicts_a_table_of_instances_with_class_names(contract: Contract) -> None:
    app = open_app(IRIS)
    app.text_area(key=f"features_csv_{IRIS}").set_value(
        "sepal_length,sepal_width,petal_length,petal_width\n0.5,0.4,0.3,0.2\n4.0,0.5,1.0,0.5\n"
    ).run()
    app.button(key="predict_button").click().run()
    assert not app.error, texts(app)

    sent = contract.sent("POST", f"/v1/models/{IRIS}/predict")
    assert sent == [{"instances": [[0.5, 0.4, 0.3, 0.2], [4.0, 0.5, 1.0, 0.5]]}]
    table = app.dataframe[-1].value
    assert list(table["Prediction"]) == ["versicolor", "setosa"]  # sums 1.4 and 6.0
    assert list(table.columns)[-3:] == ["p(setosa)", "p(versicolor)", "p(virginica)"]
    assert table["p(versicolor)"][0] == pytest.approx(0.8)
    chart = app.get("vega_lite_chart")[-1].proto
    assert "Probability of each class" in chart.spec
    assert b"virginica" in chart.SerializeToString()  # the chart's data names the classes

    # feedback names the class
    app.selectbox(key="feedback_instance").set_value(1)
    app.selectbox(key="feedback_label").set_value("virginica")
    app.button[-1].click().run()  # the form's submit button
    assert "virginica recorded (corrected)" in texts(app), texts(app)
    assert contract.sent("POST", "/v1/feedback") == [{"id": f"{IRIS}-p1", "label": "virginica"}]


def test_features_table_names_its_columns_from_the_spec_and_predicts_one_row(
    contract: Contract,
) -> None:
    app = open_app(IRIS)
    app.button(key="predict_button").click().run()
    assert not app.error, texts(app)
    assert contract.sent("POST", f"/v1/models/{IRIS}/predict") == [{"instances": [[0.0] * 4]}]
    assert metric(app, "Predicted class") == "setosa"
    assert metric(app, "Confidence") == "80.0%"
    assert metric(app, "Model version") == "v1"


def test_features_out_of_range_gets_the_gateways_message(contract: Contract) -> None:
    app = open_app(IRIS)
    app.text_area(key=f"features_csv_{IRIS}").set_value("50,1,1,1").run()
    app.button(key="predict_button").click().run()
    assert "value 0 (50) is outside 0..10" in app.error[0].value
    assert "HTTP 422" in app.error[0].value
    assert not app.exception

    app.text_area(key=f"features_csv_{IRIS}").set_value("1,2,3").run()
    assert "line 1 has 3 values; the model takes 4" in app.error[0].value


def test_digits_model_sends_the_image_as_base64_and_feedback_by_class_name(
    contract: Contract, digit_png: bytes
) -> None:
    import base64

    app = open_app()
    app.file_uploader[0].set_value(("seven.png", digit_png, "image/png")).run()
    assert app.image, "the 8×8 preview is shown"
    app.button(key="predict_button").click().run()
    assert not app.error, texts(app)
    sent = contract.sent("POST", f"/v1/models/{DIGITS}/predict")
    assert sent == [{"images": [base64.b64encode(digit_png).decode()]}]
    assert metric(app, "Predicted digit") == "7"
    assert metric(app, "Model version") == "v2"
    app.selectbox(key="feedback_label").set_value("1")
    app.button[-1].click().run()
    assert "digit 1 recorded (corrected)" in texts(app)
    assert contract.sent("POST", "/v1/feedback")[0]["label"] == "1"


def test_model_page_lists_the_picked_models_versions_and_promotes_it(contract: Contract) -> None:
    app = open_app(page="model")
    assert metric(app, "Version") == "v2"
    assert metric(app, "Test accuracy") == "91.00%"
    assert "Registered 2026-12-06 21:15:42 UTC" in texts(app)  # full, not cut
    table = app.dataframe[0].value
    assert list(table["Version"]) == ["v2", "v1"]
    assert list(table["Registered"]) == ["2026-12-06 21:15:42 UTC", "2026-12-01 08:00:00 UTC"]
    assert "Retraining is off" not in texts(app)
    assert "digits-8x8@1" in texts(app)

    app.selectbox(key="promote_version").set_value("1")
    app.button[-1].click().run()
    assert f"Version v1 of `{DIGITS}` is now in production (was v2)" in texts(app), texts(app)
    assert metric(app, "Version") == "v1"
    assert contract.sent("POST", f"/v1/models/{DIGITS}/promote") == [{"version": "1"}]


def test_retraining_is_disabled_with_the_reason_for_a_model_that_is_not_trainable(
    contract: Contract,
) -> None:
    app = open_app(IRIS, page="retraining")
    assert "Retraining is off" in texts(app)
    assert "trainable: false" in texts(app)
    start = app.button[-1]
    assert start.label == "Start retraining"
    assert start.disabled

    model_page = open_app(IRIS, page="model")
    assert "Retraining is off" in texts(model_page)
    link = next(e for e in model_page.get("page_link") if e.proto.label == "Retrain this model")
    assert link.proto.disabled
    trainable_page = open_app(DIGITS, page="model")
    link = next(e for e in trainable_page.get("page_link") if e.proto.label == "Retrain this model")
    assert not link.proto.disabled

    trainable = open_app(DIGITS, page="retraining")
    assert not trainable.button[-1].disabled
    trainable.button[-1].click().run()
    assert contract.sent("POST", f"/v1/models/{DIGITS}/retrain")
    assert "Promoted" in texts(trainable) or "job-digits-classifier" in texts(trainable)


def test_drift_before_the_first_check_is_information_not_an_error(contract: Contract) -> None:
    app = open_app(page="drift")
    assert not app.error, texts(app)
    assert "No check yet" in app.info[0].value
    assert "window holds 12 rows" in app.info[0].value
    assert not app.get("toggle"), "no report to show before a first check"

    contract.no_verdict_code = "not_found"  # the gateway's generic code for a relayed 404
    relayed = open_app(page="drift")
    assert not relayed.error, texts(relayed)
    assert "No check yet" in relayed.info[0].value

    contract.models[IRIS]["drift"] = {
        "drift_detected": None,
        "next_check_at": "2026-12-06T22:06:02+00:00",
    }
    scheduled = open_app(IRIS, page="drift")
    assert not scheduled.error
    assert "No check yet — next check at 22:06:02 UTC" in scheduled.info[0].value

    contract.models[IRIS]["drift"] = {"drift_detected": None, "check_interval_s": 300}
    every = open_app(IRIS, page="drift")
    assert "No check yet; checks run every 300 s" in every.info[0].value


def test_drift_of_a_features_model_shows_each_named_feature_and_full_times(
    contract: Contract,
) -> None:
    app = open_app(IRIS, page="drift")
    shown = texts(app)
    assert "Drift detected" in shown
    assert "Checked at 2026-12-06 22:01:02 UTC · next check at 2026-12-06 22:06:02 UTC" in shown
    assert "2 of 4 features drifted (ks p < 0.001" in shown
    estimate = next(m for m in app.metric if m.label == "Estimated accuracy")
    assert estimate.value == "91.0%"
    assert estimate.proto.delta == "-4.0% vs reference"
    chart = next(c for c in app.get("vega_lite_chart") if "Drift of each feature" in c.proto.spec)
    assert b"petal_width" in chart.proto.SerializeToString()
    app.toggle(key="drift_report").set_value(True).run()
    assert "Evidently report of iris-classifier" in app.get("iframe")[0].proto.srcdoc

    app.button(key="drift_check").click().run()
    assert "the window holds 12 rows" in app.error[0].value


@pytest.mark.parametrize("page", ["predict", "model", "drift", "retraining"])
def test_pages_say_clearly_when_the_gateway_is_down(
    page: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRONTEND_GATEWAY_URL", f"http://127.0.0.1:{free_port()}")
    app = open_app(page=page)
    assert not app.exception
    assert len(app.error) == 1
    assert "The gateway is unreachable" in app.error[0].value
    assert "Connection refused" in app.error[0].value
    assert not app.metric

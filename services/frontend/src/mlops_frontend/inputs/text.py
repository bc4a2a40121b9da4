"""Text input: the page of a ``text`` model (for the ``news`` task, the News page).

Paste or type an article, press Classify: the text goes to the model as is
(``{"texts": [...]}``; tokenization lives inside the registered version), and the page shows the
predicted class, the probability of each class by name, and the feedback form that sends the
true class by name. A text longer than ``FRONTEND_MAX_TEXT_CHARS`` (default 20,000, the gateway's
``GATEWAY_MAX_TEXT_CHARS`` default) is refused on the page with its length, before any call; a
refusal of the gateway (a lower limit there, a model not ready) shows its message.
"""

from __future__ import annotations

import hashlib

import streamlit as st

from mlops_frontend import results, ui
from mlops_frontend.api import ServedModel

#: The built-in task whose page is called "News".
NEWS_TASK = "news"
#: The label of the action button.
CLASSIFY = "Classify"


def is_news(model: ServedModel) -> bool:
    """True for a model of the built-in ``news`` task."""
    return model.spec is not None and model.spec.task == NEWS_TASK


def title(model: ServedModel) -> str:
    """The page's title: "News" for the news task, "Classify text" for another text model."""
    return "News" if is_news(model) else "Classify text"


def intro(model: ServedModel) -> str:
    """One sentence naming the model, saying it classifies text, and into which classes."""
    classes = model.spec.classes if model.spec is not None else []
    shown = ", ".join(classes[:12]) + (" …" if len(classes) > 12 else "")
    what = "news articles" if is_news(model) else "text"
    return f"Model `{model.name}` classifies {what} into one of: {shown}."


def too_long(text: str, limit: int, noun: str = "text") -> str | None:
    """Why ``text`` cannot be sent (Markdown), or None when it is within ``limit`` characters."""
    if len(text) <= limit:
        return None
    return (
        f"**This {noun} is too long**: {len(text):,} characters; the limit is {limit:,} "
        "(`FRONTEND_MAX_TEXT_CHARS`, at most the gateway's `GATEWAY_MAX_TEXT_CHARS`). "
        "Shorten it, e.g. to its title and first paragraphs."
    )


def text(model: ServedModel) -> None:
    """Type or paste a text, classify it, see the class and probabilities, send the true class."""
    news = is_news(model)
    noun = "article" if news else "text"
    limit = ui.settings().max_text_chars
    entered = st.text_area(
        "Article" if news else "Text",
        height=240,
        placeholder=(
            "Paste or type a news article: its title, then its text."
            if news
            else "Paste or type a text."
        ),
        key=f"predict_text_{model.name}",
        help=f"Up to {limit:,} characters; the model reads the text as it is.",
    ).strip()
    if not entered:
        st.info(f"Paste or type {'an article' if news else 'a text'}, then press {CLASSIFY}.")
        results.forget()
        return
    problem = too_long(entered, limit, noun)
    st.caption(f"{len(entered):,} / {limit:,} characters")
    if problem is not None:
        st.error(problem, icon=ui.ERROR_ICON)
        results.forget()
        return
    digest = hashlib.sha256(entered.encode()).hexdigest()
    answer = results.predict_button(
        model, digest, lambda: ui.client().predict_texts(model.name, [entered]), label=CLASSIFY
    )
    if answer is not None:
        classes = results.classes_of(model, answer)
        results.show(answer, classes, table=True)
        results.feedback(answer, classes)

"""The news network: a gated bag of word embeddings plus a wide TF-IDF term, and its tokenizer.

Token ids come from the ONNX preprocessing nodes of :mod:`mlops_common.text_graph`, run under
onnxruntime (:class:`TextTokenizer`): training reads exactly the ids that serving computes.

The network is "wide and deep" over one bag of ids: the *deep* part pools word vectors with a
learned per-word weight, the *wide* part is a linear map of the L2-normalised sublinear TF-IDF
bag (idf fixed from the training ids, as scikit-learn computes it). On the BBC set the deep part
alone trailed TF-IDF + logistic regression by about 0.8 pt; the wide term (``wide_scale`` 2)
closes about half of that on fresh splits (``benchmarks/news_model.py``). Besides the logits it
answers what drift watches: the deep part's pooled embedding, the number of tokens and the share
of them outside the vocabulary.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import onnxruntime as ort
import torch
from numpy.typing import NDArray
from torch import nn

from mlops_common.text_graph import OOV_ID, PAD_ID, tokenizer_model

#: Texts tokenized per onnxruntime call (longer batches pad more).
_CHUNK = 64


def _session(vocabulary: Sequence[str] | None) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    model = tokenizer_model(vocabulary).SerializeToString()
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def _rows(session: ort.InferenceSession, texts: Sequence[str]) -> Iterable[NDArray[Any]]:
    for start in range(0, len(texts), _CHUNK):
        chunk = np.asarray(texts[start : start + _CHUNK], dtype=object)
        (out,) = session.run(None, {"text": chunk})
        yield from out


def build_vocabulary(texts: Sequence[str], *, max_size: int, min_count: int) -> list[str]:
    """The ``max_size`` most frequent tokens of ``texts`` seen at least ``min_count`` times
    (ties in first-seen order), as the preprocessing nodes tokenize them."""
    counts: Counter[str] = Counter()
    for row in _rows(_session(None), texts):
        counts.update(token for token in row.tolist() if token != "#")  # nosec B105: '#' is the tokenizer's padding token, not a credential
    return [word for word, n in counts.most_common(max_size) if n >= min_count]


class TextTokenizer:
    """Texts → int64 ids ``[N, max_tokens]`` (zero-padded, truncated) with a vocabulary."""

    def __init__(self, vocabulary: Sequence[str], max_tokens: int) -> None:
        self.vocabulary = list(vocabulary)
        self.max_tokens = max_tokens
        self._session: ort.InferenceSession | None = None

    def __call__(self, texts: Sequence[str]) -> torch.Tensor:
        """The ids of ``texts`` as the exported graph computes them (before its truncation)."""
        if self._session is None:
            self._session = _session(self.vocabulary)
        out = np.full((len(texts), self.max_tokens), PAD_ID, dtype=np.int64)
        for i, row in enumerate(_rows(self._session, texts)):
            kept = row[: self.max_tokens]
            out[i, : len(kept)] = kept
        return torch.from_numpy(out)


class NewsBagClassifier(nn.Module):
    """Token ids → logits; :meth:`outputs` also gives the monitored outputs.

    Args:
        vocabulary: the words, in id order from :data:`~mlops_common.text_graph.FIRST_WORD_ID`.
        n_classes: number of classes.
        dim: width of the word vectors (and of the monitored embedding).
        dropout: dropout on the pooled vector while training.
        max_tokens: tokens read per text (the rest is ignored, in training and serving alike).
        wide_scale: weight of the wide TF-IDF term (0: the deep part alone).
    """

    def __init__(
        self,
        vocabulary: Sequence[str],
        n_classes: int,
        dim: int = 64,
        dropout: float = 0.5,
        max_tokens: int = 512,
        wide_scale: float = 2.0,
    ) -> None:
        super().__init__()
        if n_classes < 2 or dim < 1 or max_tokens < 1 or not 0 <= dropout < 1:
            raise ValueError(
                f"bad sizes: n_classes={n_classes}, dim={dim}, max_tokens={max_tokens}, "
                f"dropout={dropout}"
            )
        self.vocabulary = list(vocabulary)
        self.n_classes = n_classes
        self.dim = dim
        self.max_tokens = max_tokens
        rows = len(self.vocabulary) + 2
        self.embedding = nn.Embedding(rows, dim, padding_idx=PAD_ID)
        self.gate = nn.Embedding(rows, 1, padding_idx=PAD_ID)
        nn.init.zeros_(self.gate.weight)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(dim, n_classes)
        self.wide_scale = wide_scale
        self.wide = nn.Parameter(torch.zeros(rows, n_classes))
        self.idf: torch.Tensor
        self.register_buffer("idf", torch.zeros(rows))  # fit_statistics sets it; 0: pad, OOV
        self.tokenizer = TextTokenizer(self.vocabulary, max_tokens)

    def init_kwargs(self) -> dict[str, Any]:
        """What rebuilds this network besides its config (saved with a checkpoint)."""
        return {"vocabulary": self.vocabulary, "n_classes": self.n_classes}

    def prepare(self, texts: Sequence[str]) -> torch.Tensor:
        """The network's input for ``texts``: their token ids."""
        return self.tokenizer(texts)

    def fit_statistics(self, train_ids: NDArray[np.int64]) -> None:
        """Set the wide term's idf from the training ids: ln((1 + n) / (1 + df)) + 1, where df
        counts the training texts holding the word (scikit-learn's smoothed idf)."""
        ids = np.asarray(train_ids)[:, : self.max_tokens]
        df = np.zeros(self.idf.numel())
        for row in ids:
            df[np.unique(row)] += 1
        idf = np.log((1.0 + len(ids)) / (1.0 + df)) + 1.0
        idf[[PAD_ID, OOV_ID]] = 0.0
        self.idf.copy_(torch.from_numpy(idf).to(torch.float32))

    def _wide(self, ids: torch.Tensor) -> torch.Tensor:
        """The wide term's logits: the L2-normalised sublinear TF-IDF bag of ``ids`` × ``wide``."""
        ones = torch.ones(ids.shape, dtype=torch.float32)
        counts = torch.zeros(ids.shape[0], self.idf.numel()).scatter_add(1, ids, ones)
        tf = torch.where(counts > 0, 1.0 + torch.log(counts.clamp(min=1.0)), 0.0)
        bag = tf * self.idf
        bag = bag / bag.norm(dim=1, keepdim=True).clamp(min=1e-6)
        return torch.matmul(bag, self.wide)

    def outputs(self, ids: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``(logits [N, C], embedding [N, dim], n_tokens [N], oov_share [N])``."""
        ids = ids[:, : self.max_tokens]
        is_token = (ids != PAD_ID).to(torch.float32)
        n_tokens = is_token.sum(dim=1)
        oov_share = (ids == OOV_ID).to(torch.float32).sum(dim=1) / n_tokens.clamp(min=1.0)
        weight = is_token * torch.exp(self.gate(ids).squeeze(-1))
        pooled = (self.embedding(ids) * weight.unsqueeze(-1)).sum(dim=1)
        embedding = pooled / weight.sum(dim=1, keepdim=True).clamp(min=1e-6)
        logits = self.head(self.dropout(embedding))
        if self.wide_scale:
            logits = logits + self.wide_scale * self._wide(ids)
        return logits, embedding, n_tokens, oov_share

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Logits ``[N, C]`` for token ids ``[N, T]``."""
        return self.outputs(ids)[0]


class NewsExportModel(nn.Module):
    """What is exported (before the preprocessing is merged in): ids → probabilities and the
    monitored outputs."""

    def __init__(self, network: NewsBagClassifier) -> None:
        super().__init__()
        self.network = network

    def forward(self, ids: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``(probabilities, embedding, n_tokens, oov_share)``."""
        logits, embedding, n_tokens, oov_share = self.network.outputs(ids)
        return torch.softmax(logits, dim=-1), embedding, n_tokens, oov_share

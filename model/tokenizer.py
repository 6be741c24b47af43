"""Byte-level BPE tokenizer with the CodeT5+ special-token layout (HF `tokenizers`, torch-free).

`CodeTokenizer.train()` learns a RoBERTa-style byte-level BPE whose ids 0-4 are the base
specials, then appends the 100 sentinels and the task tokens (see `model.special_tokens`).
`CodeTokenizer.from_salesforce()` loads a Salesforce-format directory (`vocab.json`,
`merges.txt`, optional `added_tokens.json`). `encode()` never adds `<s>`/`</s>`: the task
formats in `model.formats` place them explicitly.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterable, Sequence

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from tokenizers import AddedToken

from model import special_tokens as st

TOKENIZER_FILE = "tokenizer.json"


class TokenizerError(ValueError):
    """A tokenizer file is missing, unreadable or does not follow the CodeT5+ layout."""


class CodeTokenizer:
    """Thin typed wrapper over `tokenizers.Tokenizer` with CodeT5+ special-token lookups."""

    def __init__(self, tokenizer: Tokenizer, source: str = "<memory>") -> None:
        self._tok = tokenizer
        self.source = source
        self._check_layout()
        self.pad_id = self.token_id(st.PAD)
        self.bos_id = self.token_id(st.BOS)
        self.eos_id = self.token_id(st.EOS)
        self.unk_id = self.token_id(st.UNK)
        self.mask_id = self.token_id(st.MASK)
        self.clm_id = self.token_id(st.CLM)
        self.enc_id = self.token_id(st.ENC)
        self.tdec_id = self.token_id(st.TDEC)
        self.cdec_id = self.token_id(st.CDEC)
        self.sentinel_ids = [self.token_id(st.sentinel(i)) for i in range(st.NUM_SENTINELS)]
        self.special_ids = frozenset(
            [self.pad_id, self.bos_id, self.eos_id, self.unk_id, self.mask_id,
             self.enc_id, self.tdec_id, self.cdec_id, *self.sentinel_ids])

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int, min_frequency: int = 2) -> "CodeTokenizer":
        """Train a byte-level BPE of `vocab_size` entries (base specials included)."""
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size, min_frequency=min_frequency,
            special_tokens=list(st.BASE_SPECIALS),
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
        tok.train_from_iterator(texts, trainer=trainer)
        _append_task_tokens(tok)
        return cls(tok, source="<trained>")

    @classmethod
    def from_file(cls, path: str | Path) -> "CodeTokenizer":
        """Load a `tokenizer.json` (or a directory holding one, or a Salesforce-format dir)."""
        path = Path(path)
        if path.is_dir():
            if (path / TOKENIZER_FILE).is_file():
                path = path / TOKENIZER_FILE
            elif (path / "vocab.json").is_file():
                return cls.from_salesforce(path)
            else:
                raise TokenizerError(f"{path}: no {TOKENIZER_FILE} and no vocab.json/merges.txt")
        if not path.is_file():
            raise TokenizerError(f"{path}: tokenizer file not found")
        try:
            tok = Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises plain Exception subclasses
            raise TokenizerError(f"{path}: not a readable tokenizer.json ({exc})") from exc
        return cls(tok, source=str(path))

    @classmethod
    def from_salesforce(cls, directory: str | Path) -> "CodeTokenizer":
        """Load `vocab.json` + `merges.txt` (+ `added_tokens.json`) as shipped with codet5p-*."""
        directory = Path(directory)
        vocab, merges = directory / "vocab.json", directory / "merges.txt"
        for f in (vocab, merges):
            if not f.is_file():
                raise TokenizerError(f"{f}: missing (a Salesforce tokenizer needs vocab.json and merges.txt)")
        try:
            bpe = models.BPE.from_file(str(vocab), str(merges))
        except Exception as exc:
            raise TokenizerError(f"{directory}: unreadable vocab.json/merges.txt ({exc})") from exc
        tok = Tokenizer(bpe)
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        vocab_map = json.loads(vocab.read_text(encoding="utf-8"))
        added_file = directory / "added_tokens.json"
        added: dict[str, int] = {}
        if added_file.is_file():
            added = json.loads(added_file.read_text(encoding="utf-8"))
        # Base specials live in vocab.json; register them as special so they are never split.
        # Base specials and any sentinels/task tokens stored in vocab.json are registered as
        # special (same ids) so they are never split and are skipped when decoding.
        tok.add_special_tokens([AddedToken(t, special=True, normalized=False)
                                for t in (*st.BASE_SPECIALS, *st.appended_tokens()) if t in vocab_map])
        # Added tokens must get exactly the ids the file names, in id order, with no gaps.
        next_id = tok.get_vocab_size(with_added_tokens=True)
        for token, idx in sorted(added.items(), key=lambda kv: kv[1]):
            if token in vocab_map:
                continue
            if idx != next_id:
                raise TokenizerError(f"{added_file}: token {token!r} has id {idx}, expected {next_id}")
            tok.add_special_tokens([AddedToken(token, special=True, normalized=False)])
            next_id += 1
        present = set(vocab_map) | set(added)
        if not all(t in present for t in st.appended_tokens()):
            _append_task_tokens(tok, only_missing=True)
        return cls(tok, source=str(directory))

    # ---- use ----------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return self._tok.get_vocab_size(with_added_tokens=True)

    def token_id(self, token: str) -> int:
        idx = self._tok.token_to_id(token)
        if idx is None:
            raise TokenizerError(f"{self.source}: token {token!r} is not in the vocabulary")
        return idx

    def encode(self, text: str) -> list[int]:
        """Token ids of `text` with no special tokens added."""
        return self._tok.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [e.ids for e in self._tok.encode_batch(list(texts), add_special_tokens=False)]

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        return self._tok.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def id_to_token(self, idx: int) -> str | None:
        return self._tok.id_to_token(idx)

    def save(self, directory: str | Path) -> Path:
        """Write `tokenizer.json` into `directory` and return its path."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / TOKENIZER_FILE
        self._tok.save(str(path))
        return path

    def to_json(self) -> str:
        return self._tok.to_str()

    def sha256(self) -> str:
        """Hash of the canonical serialisation: what a bundle manifest records."""
        return hashlib.sha256(self._tok.to_str().encode("utf-8")).hexdigest()

    @property
    def backend(self) -> Tokenizer:
        return self._tok

    def _check_layout(self) -> None:
        for i, token in enumerate(st.BASE_SPECIALS):
            if self._tok.token_to_id(token) != i:
                raise TokenizerError(f"{self.source}: {token!r} must have id {i} "
                                     f"(found {self._tok.token_to_id(token)})")
        for token in st.appended_tokens():
            if self._tok.token_to_id(token) is None:
                raise TokenizerError(f"{self.source}: special token {token!r} is missing")


def _append_task_tokens(tok: Tokenizer, only_missing: bool = False) -> None:
    tokens = st.appended_tokens()
    if only_missing:
        tokens = [t for t in tokens if tok.token_to_id(t) is None]
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in tokens])

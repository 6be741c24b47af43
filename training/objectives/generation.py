"""Generation objectives: text->code (`[CDEC]`), code->text (`[TDEC]`), instruction following.

All three are teacher-forced seq2seq losses on the formats of `model.formats`; pair rows carry
`docstring` (the first docstring sentence) and `code` (the function without its docstring);
instruction rows carry `instruction`, `input` and `response` (loss on the response only).
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from model.formats import Example, code_to_text_example, instruction_example, text_to_code_example
from training.objectives.base import Seq2SeqObjective


class TextToCode(Seq2SeqObjective):
    name = "text2code"
    kind = "pairs"

    def example(self, sample: Mapping[str, str], rng: np.random.Generator) -> Example:
        return text_to_code_example(self.tok, sample["docstring"], sample["code"],
                                    max_source_length=min(256, self.max_source_length),
                                    max_target_length=self.max_target_length)


class CodeToText(Seq2SeqObjective):
    name = "code2text"
    kind = "pairs"

    def example(self, sample: Mapping[str, str], rng: np.random.Generator) -> Example:
        return code_to_text_example(self.tok, sample["code"], sample["docstring"],
                                    max_source_length=self.max_source_length,
                                    max_target_length=min(128, self.max_target_length))


class InstructionFollowing(Seq2SeqObjective):
    name = "instruct"
    kind = "instructions"

    def example(self, sample: Mapping[str, str], rng: np.random.Generator) -> Example:
        return instruction_example(self.tok, sample["instruction"], sample["response"],
                                   input_text=sample.get("input", ""),
                                   max_source_length=self.max_source_length,
                                   max_target_length=self.max_target_length)

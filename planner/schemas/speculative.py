"""Speculative decoding of a workload (``workloads[].speculative``): the method, the draft, the tokens
drafted per step and the acceptance rate, with the sourced default acceptance per method.

Off by default: a workload without the key decodes one token per step. The estimate is
planner.core.speculative; docs/speculative.md states the sources, the error bounds and what is not
validated (no measured speculative data ships with planner).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field, model_validator

from planner.schemas.base import StrictModel
from planner.schemas.catalog import ModelSpec

SpeculativeMethod = Literal["draft", "eagle", "mtp"]
METHODS: tuple[str, ...] = ("draft", "eagle", "mtp")
MAX_SPECULATIVE_TOKENS = 8
"""Draft tokens per step at most: engines document 1-7 (vLLM's MTP default 1, EAGLE examples 2-3, draft
models 5; SGLang's EAGLE default 5 steps), and with any acceptance below 0.9 the 9th token's chance of
being accepted (a^9) is under 40 %, so longer drafts only add cost."""
MAX_ACCEPTANCE_RATE = 0.99
"""a = 1 would mean a draft that is never wrong (E = k + 1 exactly); the formula needs a < 1."""


@dataclass(frozen=True)
class AcceptanceDefault:
    """The acceptance rate a method gets when the scenario gives none, with its source and range."""

    value: float
    low: float
    high: float
    tokens: int
    """Draft tokens per step when the scenario gives none."""
    source: str


DEFAULT_ACCEPTANCE: dict[str, AcceptanceDefault] = {
    "draft": AcceptanceDefault(
        0.7, 0.5, 0.9, 4,
        "Leviathan, Kalman and Matias, Fast Inference from Transformers via Speculative Decoding (ICML 2023, "
        "arXiv 2211.17192): the expected tokens per step (1 - a^(k+1)) / (1 - a) for i.i.d. acceptance, and "
        "acceptance rates between about 0.5 and 0.9 across their target/draft pairs and tasks (the values "
        "recalled from the paper's table, not re-read here); 0.7 is the middle of that range"),
    "eagle": AcceptanceDefault(
        0.75, 0.5, 0.9, 3,
        "Li et al., EAGLE (ICML 2024, arXiv 2401.15077): about 0.8 acceptance per drafted token against about 0.6 "
        "for Medusa (as summarised at paidge.com/notes/efficient_architectures/eagle_speculative_sampling.html; "
        "the paper's tables not re-read here); EAGLE-2/-3 raise the acceptance "
        "length with draft trees (SGLang documents EAGLE-3 at 2.36x and EAGLE-2 at 1.54x the tokens/s of plain "
        "decoding for Llama-3.1-8B on MT-bench, 1 H100). An independent vLLM 0.17 run of gpt-oss-120b with an "
        "EAGLE-3 head at temperature 1 logged cumulative per-position acceptance 0.58, 0.31, 0.16 (about 0.55 "
        "per token: huggingface.co/datasets/aimosprite/inference-bench-results, eagle3_tree_validate/notes.md); "
        "0.75 sits between the two"),
    "mtp": AcceptanceDefault(
        0.85, 0.6, 0.9, 1,
        "DeepSeek-V3 Technical Report (arXiv 2412.19437, section 5.4.3): the acceptance rate of the second "
        "token predicted by the MTP module is 85-90 % across generation topics, giving 1.8x the tokens per "
        "second; the low end is taken. Drafting more than one token reuses the single module and accepts "
        "less at later positions (Nebius' MTP-DeepSeek-V3-0324 model card: acceptance length 3.2 at K = 7 "
        "for the original module), hence the range down to 0.6"),
}
"""Default acceptance rate per method. Acceptance depends on the data (code and math accept more than
chat), the sampling temperature and the draft/target pair: measure it on your traffic (vLLM and SGLang log
it) and set ``acceptance_rate``."""

MTP_MODULES: dict[str, int] = {"deepseek-v3": 1, "deepseek-r1": 1}
"""Catalog models that ship multi-token-prediction modules, and how many. Source: deepseek-ai/DeepSeek-V3
README_WEIGHTS.md (config.json ``num_nextn_predict_layers`` = 1: "The open-sourced V3 weights include 1 MTP
Module", 11.5B unique parameters plus the shared embedding and output head; quoted in
tenstorrent/tt-metal models/demos/deepseek_v3/reference/README_WEIGHTS.md); DeepSeek-R1 has the V3
architecture and checkpoint layout. Kept here rather than in catalogs/models.yaml so that adding the fact
does not change the catalog hash every committed plan records."""


class Speculative(StrictModel):
    """Speculative decoding for a workload: a draft proposes ``tokens`` tokens, the model verifies them
    in one step. Off when the key is absent."""

    method: SpeculativeMethod
    """``draft`` (a smaller catalog model drafts), ``eagle`` (a one-layer EAGLE head on the model's
    features) or ``mtp`` (the model's own multi-token-prediction module: DeepSeek-V3/R1)."""
    draft_model: str | None = None
    """Catalog id or alias of the draft model (method ``draft`` only): same tokenizer, smaller."""
    tokens: int | None = Field(None, ge=1, le=MAX_SPECULATIVE_TOKENS)
    """Draft tokens per step (k). Default: 4 (draft), 3 (eagle), 1 (mtp)."""
    acceptance_rate: float | None = Field(None, ge=0.0, le=MAX_ACCEPTANCE_RATE)
    """Probability that each drafted token is accepted (a, i.i.d. per position). Default per method:
    draft 0.7, eagle 0.75, mtp 0.85 (sources in planner/schemas/speculative.py; depends on the data)."""

    @model_validator(mode="after")
    def _draft_model_for_draft_only(self) -> Speculative:
        if self.method == "draft" and not self.draft_model:
            raise ValueError("method draft needs draft_model: the catalog id of a smaller model with the same "
                             "tokenizer (e.g. llama-3.2-1b for llama-3.1-70b)")
        if self.method != "draft" and self.draft_model is not None:
            drafter = "an EAGLE head" if self.method == "eagle" else "the model's own MTP module"
            raise ValueError(f"draft_model is for method draft only; method {self.method} drafts with {drafter} "
                             "(remove draft_model, or use method: draft)")
        return self

    @property
    def tokens_or_default(self) -> int:
        return self.tokens if self.tokens is not None else DEFAULT_ACCEPTANCE[self.method].tokens

    @property
    def acceptance_or_default(self) -> float:
        return self.acceptance_rate if self.acceptance_rate is not None else DEFAULT_ACCEPTANCE[self.method].value

    def resolved(self, draft_model_id: str | None = None) -> Speculative:
        """A copy with every default filled and the draft model as its catalog id."""
        draft = draft_model_id if draft_model_id is not None else self.draft_model
        return self.model_copy(update={"tokens": self.tokens_or_default, "acceptance_rate": self.acceptance_or_default,
                                       "draft_model": draft})



VOCAB_MATCH_TOLERANCE = 0.01
"""A draft's vocabulary may differ from the model's by this share at most: checkpoints of one tokenizer
pad the embedding differently (Qwen2.5-7B 152064 rows, Qwen3 151936), different tokenizers differ more
(Llama 3 128256, Mistral 32768). Equal sizes do not prove one tokenizer (Llama 2 and Mistral 7B v0.1 both
have 32000): the check refuses what surely fails, the scenario author vouches for the rest."""


def speculative_problems(spec: Speculative, model: ModelSpec, draft: ModelSpec | None) -> list[str]:
    """What makes ``spec`` impossible for ``model`` (with ``draft``, the draft model's spec, for method
    draft), each message with its fix; empty when it can run."""
    out = []
    if spec.method == "mtp" and MTP_MODULES.get(model.id, 0) < 1:
        shipped = ", ".join(sorted(MTP_MODULES))
        out.append(f"method mtp needs a model that ships a multi-token-prediction module; {model.id} does not "
                   f"(in the catalog: {shipped}); use method eagle or draft")
    if draft is not None:
        if draft.params_total_b >= model.params_total_b:
            out.append(f"draft_model {draft.id} ({draft.params_total_b:g}B parameters) is not smaller than "
                       f"{model.id} ({model.params_total_b:g}B): a draft must be much smaller to save time "
                       "(e.g. a 1-8B model of the same family)")
        if abs(draft.vocab_size - model.vocab_size) > VOCAB_MATCH_TOLERANCE * model.vocab_size:
            out.append(f"draft_model {draft.id} has a {draft.vocab_size}-token vocabulary, {model.id} "
                       f"{model.vocab_size}: a draft must share the model's tokenizer (pick a model of the "
                       "same family)")
    return out

"""Typed, expected outcomes with their exit codes.

Expected "no answer" outcomes (bad input, infeasible scenario, policy deny) are errors of these
types: the CLI prints their message on one line and exits with the code below, no traceback.
Anything else is a bug and keeps its traceback (shown with ``--debug``).

Exit codes (documented in the README):
    0  success / no change
    1  input error (bad YAML, unknown name, impossible value, corrupt plan file)
    2  ``planner diff``: plans differ; ``planner check``: stale plan
    3  infeasible scenario (the explanation is printed)
    4  policy deny (``planner check --policy``)
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_INPUT = 1
EXIT_CHANGED = 2
EXIT_STALE = 2
EXIT_INFEASIBLE = 3
EXIT_POLICY_DENY = 4


SHOWN_CHARS = 60
"""A value echoed in a message is cut to this many characters (a 400-character typo is not repeated)."""


def shown(text: str) -> str:
    """``text`` for a message: its repr, at most about SHOWN_CHARS characters ("...'" marks a cut)."""
    quoted = repr(text[:SHOWN_CHARS + 1])
    return quoted if len(text) <= SHOWN_CHARS else quoted[:SHOWN_CHARS] + "...'"


class PlannerError(Exception):
    """Base of every expected error; ``exit_code`` is what the CLI returns."""

    exit_code = EXIT_INPUT

    def __init__(self, message: str, *, file: str | None = None, key_path: str | None = None,
                 fix: str | None = None) -> None:
        self.message = message
        self.file = file
        self.key_path = key_path
        self.fix = fix
        super().__init__(self.render())

    def render(self) -> str:
        where = ""
        if self.file and self.key_path:
            where = f"{self.file}: {self.key_path}: "
        elif self.file:
            where = f"{self.file}: "
        elif self.key_path:
            where = f"{self.key_path}: "
        text = f"{where}{self.message}"
        if self.fix:
            text += f" ({self.fix})"
        return text


class InputError(PlannerError):
    """The user's input is wrong: malformed file, unknown name, impossible value."""


class ParameterError(InputError):
    """An argument out of its range, named as the Python API names it (``parameter``: ``batch_size``); a
    command re-raises it `named` after its flag (``--batch-size``)."""

    def __init__(self, parameter: str, requirement: str, *, fix: str | None = None) -> None:
        self.parameter = parameter
        self.requirement = requirement
        super().__init__(f"{parameter} {requirement}", fix=fix)

    def named(self, name: str) -> ParameterError:
        """The same error about ``name`` (a flag) instead of the parameter."""
        return ParameterError(name, self.requirement, fix=self.fix)


class UnknownNameError(InputError):
    """A model or GPU name that is not in any catalog."""


class DoesNotFitError(InputError):
    """The model's weights and minimum KV cache do not fit the configuration's memory."""


class UnsupportedPrecisionError(InputError):
    """The GPU cannot run this precision natively and it cannot be emulated."""


class CalibrationError(InputError):
    """A measurement file or a calibration that cannot be used."""


class PlanFileError(InputError):
    """A plan file that is corrupt, foreign, or of an unsupported schema version."""


class InfeasibleError(PlannerError):
    """The scenario has no plan that meets every constraint; ``explanation`` says why."""

    exit_code = EXIT_INFEASIBLE

    def __init__(self, message: str, *, explanation: list[str] | None = None, **kw: object) -> None:
        self.explanation = explanation or []
        super().__init__(message, **kw)  # type: ignore[arg-type]


class SolverLimitError(PlannerError):
    """The solver stopped (time or iteration limit) before finding any plan: not an infeasibility."""


class PolicyDenyError(PlannerError):
    exit_code = EXIT_POLICY_DENY


class StalePlanError(PlannerError):
    exit_code = EXIT_STALE

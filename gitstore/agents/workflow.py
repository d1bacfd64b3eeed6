"""The workflow state machine: configured stages, allowed transitions, transition records.

Stages and transitions are store configuration (section ``workflow`` of
``.gitstore/config.json``), committed and replicated like tickets::

    {"stages": [...], "initial": "trigger",
     "transitions": {"trigger": ["classifier", "end"], ...},
     "routing_loop_threshold": 3}

``SEED000_WORKFLOW`` (the default) is seed 000 §3.1.3's pipeline
``trigger → classifier → selection → action → end`` plus the backward steps a support
team needs:

- ``trigger → end``: close spam or a duplicate without classifying it;
- ``classifier → trigger``: the ticket needs more from the customer before triage;
- ``selection → classifier`` and ``action → classifier``: re-classify when selection or
  action shows the triage was wrong;
- ``action → selection``: the chosen action failed, choose another;
- ``classifier → end``, ``selection → end``: resolved early (e.g. answered by the
  customer themself);
- ``end → trigger``: reopen when the customer writes again.

``TENEX_WORKFLOW`` is seed 001's phases with its rules (``chat → execute|plan|brainstorm``,
``execute → verification|chat``, ``verification → chores|execute|chat``,
``reflection → chat``); the seed gives no rules for ``plan``, ``brainstorm`` and
``chores``, so: ``plan → execute|chat``, ``brainstorm → plan|chat``,
``chores → reflection|chat``.

A ticket whose stage is not configured (a store that switched workflows) may only move
to the ``initial`` stage. Every accepted change appends a ``PhaseTransition`` (from, to,
timestamp, actor, agent, reason, summary; seed 001) to ``phase_transitions`` in T.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gitstore.config import section, write_section
from gitstore.errors import InvalidTransition, ValidationError

SEED000_WORKFLOW: dict[str, Any] = {
    "stages": ["trigger", "classifier", "selection", "action", "end"],
    "initial": "trigger",
    "transitions": {
        "trigger": ["classifier", "end"],
        "classifier": ["selection", "trigger", "end"],
        "selection": ["action", "classifier", "end"],
        "action": ["end", "selection", "classifier"],
        "end": ["trigger"],
    },
    "routing_loop_threshold": 3,
}
TENEX_WORKFLOW: dict[str, Any] = {
    "stages": ["chat", "brainstorm", "plan", "execute", "verification", "chores", "reflection"],
    "initial": "chat",
    "transitions": {
        "chat": ["execute", "plan", "brainstorm"],
        "brainstorm": ["plan", "chat"],
        "plan": ["execute", "chat"],
        "execute": ["verification", "chat"],
        "verification": ["chores", "execute", "chat"],
        "chores": ["reflection", "chat"],
        "reflection": ["chat"],
    },
    "routing_loop_threshold": 3,
}
PRESETS = {"seed000": SEED000_WORKFLOW, "tenex": TENEX_WORKFLOW}
_STAGE_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_RETRIES = 5
_WORKFLOW_CACHE: dict[str | None, "Workflow"] = {}


@dataclass(frozen=True)
class Workflow:
    """A validated ``workflow`` configuration.

    Attributes:
        stages: stage names, in display order.
        initial: the stage new tickets and tickets in an unconfigured stage go to.
        transitions: stage → stages it may move to.
        routing_loop_threshold: same agent set routed this many times in a row without
            a new customer message counts as a routing loop (``turns``).
    """

    stages: tuple[str, ...]
    initial: str
    transitions: dict[str, tuple[str, ...]]
    routing_loop_threshold: int

    def allowed(self, current: str) -> tuple[str, ...]:
        """Return the stages ``current`` may move to."""
        if current not in self.stages:
            return (self.initial,)
        return self.transitions.get(current, ())

    def check_stage(self, stage: str) -> None:
        """Raise InvalidTransition if ``stage`` is not a configured stage."""
        if stage not in self.stages:
            raise InvalidTransition(f"unknown stage {stage!r}: configured stages are {', '.join(self.stages)}")

    def check_transition(self, current: str, new: str) -> None:
        """Raise InvalidTransition unless ``current → new`` is an edge of the graph.

        The message lists the allowed next stages.
        """
        self.check_stage(new)
        allowed = self.allowed(current)
        if new not in allowed:
            shown = ", ".join(allowed) or "none (final stage)"
            raise InvalidTransition(f"transition {current} → {new} is not allowed; from {current}: {shown}")


def parse_workflow(raw: dict[str, Any]) -> Workflow:
    """Validate a ``workflow`` section.

    Raises:
        ValidationError: unknown stage names in transitions, a bad stage name, an
            initial stage that is not a stage, or a threshold below 2.
    """
    stages = raw.get("stages")
    if not isinstance(stages, list) or not stages or len(set(stages)) != len(stages):
        raise ValidationError("workflow.stages must be a non-empty list of distinct stage names")
    for stage in stages:
        if not isinstance(stage, str) or not _STAGE_RE.match(stage):
            raise ValidationError(f"workflow.stages: {stage!r} is not a stage name (a-z, 0-9, '_', '-')")
    initial = raw.get("initial", stages[0])
    if initial not in stages:
        raise ValidationError(f"workflow.initial {initial!r} is not one of the stages")
    transitions_raw = raw.get("transitions") or {}
    if not isinstance(transitions_raw, dict):
        raise ValidationError("workflow.transitions must be an object of stage → [stages]")
    transitions: dict[str, tuple[str, ...]] = {}
    for source, targets in transitions_raw.items():
        if source not in stages or not isinstance(targets, list) or any(t not in stages for t in targets):
            raise ValidationError(f"workflow.transitions.{source}: every stage must be one of {', '.join(stages)}")
        transitions[source] = tuple(targets)
    threshold = raw.get("routing_loop_threshold", 3)
    if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 2:
        raise ValidationError("workflow.routing_loop_threshold must be an integer ≥ 2")
    return Workflow(tuple(stages), initial, transitions, threshold)


def load_workflow(store, at: str | None = None) -> Workflow:
    """Return the store's workflow at HEAD (or ``at``); ``SEED000_WORKFLOW`` if unset.

    A configured section replaces the default whole (stages and transitions belong
    together). Parsed workflows are cached by the configuration blob's id.

    Raises:
        ValidationError: the committed section is invalid.
    """
    from gitstore.agents.roles import config_key

    commit_id, blob = config_key(store, at)
    cached = _WORKFLOW_CACHE.get(blob)
    if cached is not None:
        return cached
    raw = section(store, "workflow", {}, at=commit_id)
    workflow = parse_workflow(raw if raw else SEED000_WORKFLOW)
    if len(_WORKFLOW_CACHE) > 64:
        _WORKFLOW_CACHE.clear()
    _WORKFLOW_CACHE[blob] = workflow
    return workflow


def configure_workflow(store, value: dict[str, Any] | str, *, actor: str) -> str:
    """Commit a workflow configuration (a preset name or a section object); returns the commit.

    Raises:
        ValidationError: unknown preset or invalid section; nothing is written.
    """
    if isinstance(value, str):
        if value not in PRESETS:
            raise ValidationError(f"unknown workflow preset {value!r}: use {', '.join(PRESETS)}")
        value = PRESETS[value]
    parse_workflow(value)
    return write_section(store, "workflow", value, actor=actor, summary="Configure workflow stages")


def set_stage(
    store,
    t_no: str,
    stage: str,
    *,
    reason: str,
    actor: str,
    agent: str | None = None,
    summary: str | None = None,
    fields: dict[str, Any] | None = None,
    expected_version: str | None = None,
    allow_same: bool = False,
):
    """Move a ticket to ``stage`` if the workflow allows it, as one commit.

    Appends a transition record (from, to, timestamp, actor, agent, reason, summary) to
    ``phase_transitions`` and sets ``workflow_stage`` (seed 001 "Phase Transition
    System"). ``fields`` are further T/E fields set in the same commit (``state set``).
    The check and the write are tied by the version read: if the ticket changes in
    between, the check is repeated (or ConflictError raised when ``expected_version``
    was given).

    Returns:
        The ``CommitResult``.

    Raises:
        InvalidTransition: unknown stage or an edge outside the graph (lists allowed).
        ValidationError: empty reason. TicketNotFound, ConflictError, UnknownAgent.
    """
    from gitstore.timeutil import format_utc, utc_now

    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError("a stage change needs a reason")
    workflow = load_workflow(store)
    workflow.check_stage(stage)
    from gitstore.store import retry_on_conflict

    def write(files, head):  # the check and the write, on the ticket as read at head
        current = files.workflow.workflow_stage
        when = utc_now()
        data: dict[str, Any] = {"T": {}}
        if not (allow_same and current == stage):
            workflow.check_transition(current, stage)
            record = {
                "from": current,
                "to": stage,
                "timestamp": format_utc(when),
                "actor": actor,
                "agent": agent,
                "reason": reason,
                "summary": summary,
            }
            transitions = [t.model_dump(mode="json") for t in files.workflow.phase_transitions]
            data["T"] = {"workflow_stage": stage, "phase_transitions": transitions + [record]}
        for key, value in (fields or {}).items():
            target = "E" if key == "conversation_status" else "T"
            data.setdefault(target, {})[key] = value
        data = {k: v for k, v in data.items() if v}
        if not data:
            raise ValidationError(f"ticket {t_no} is already in stage {stage}: nothing to change")
        moved = "workflow_stage" in data.get("T", {})
        return store.update(
            t_no,
            data,
            actor=actor,
            agent=agent,
            timestamp=when,
            expected_version=expected_version or str(head.id),
            summary=f"Move ticket {t_no} from {current} to {stage}" if moved else f"Set fields on ticket {t_no}",
            trailers={"Stage": f"{current} -> {stage}"} if moved else None,
        )

    return retry_on_conflict(store, t_no, write, attempts=1 if expected_version is not None else _RETRIES)


def stage_info(store, t_no: str, at: str | None = None) -> dict[str, Any]:
    """Return a ticket's stage, where it may go next, and its transition records.

    Returns:
        ``{"ticket", "stage", "allowed": [..], "stages": [..], "phase_transitions": [..]}``.

    Raises:
        TicketNotFound, RevisionNotFound, ValidationError (invalid configuration).
    """
    commit = store.resolve(at)
    files = store.read(t_no, at=commit)
    workflow = load_workflow(store, at=str(commit.id))
    stage = files.workflow.workflow_stage
    return {
        "ticket": t_no,
        "stage": stage,
        "allowed": list(workflow.allowed(stage)),
        "stages": list(workflow.stages),
        "phase_transitions": [t.model_dump(mode="json") for t in files.workflow.phase_transitions],
    }

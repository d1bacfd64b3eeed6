"""Cross-file rules of a ticket (docs/data-model.md#cross-file-rules).

Checked on every write before anything is committed, and by ``verify``:

1. every file's ``ticket_id`` is the T_NO;
2. ``file_references`` of T name ``E_<T_NO>.json`` and ``I_<T_NO>.json``;
3. ``synchronized_with`` of E is ``[I_<T_NO>, T_<T_NO>]`` and of I ``[E_<T_NO>, T_<T_NO>]``;
4. synchronization drift: E ``last_updated``, I ``last_updated`` and T
   ``last_synchronized`` are equal. Because one commit writes all three files with one
   timestamp, gitstore demands zero drift rather than a drift below some tolerance
   (docs/data-model.md#design-departures);
5. message ids are unique across E and I (the unified timeline is keyed by them);
   ``update_id`` and ``decision_id`` are unique in their lists.
"""

from __future__ import annotations

from collections import Counter

from gitstore.tickets.files import TicketFiles
from gitstore.tickets.layout import file_name


def cross_file_problems(files: TicketFiles) -> list[tuple[str, str]]:
    """Return the cross-file rule violations of a ticket.

    Returns:
        A list of ``(file name, problem)`` pairs; empty when the ticket is consistent.
    """
    t = files.t_no
    e_name, i_name, t_name = (file_name(k, t) for k in "EIT")
    problems: list[tuple[str, str]] = []
    for name, model in ((e_name, files.external), (i_name, files.internal), (t_name, files.workflow)):
        if model.ticket_id != t:
            problems.append((name, f"ticket_id is {model.ticket_id!r}, expected {t!r}"))
    refs = files.workflow.file_references
    if refs.external_conversation != e_name:
        problems.append((t_name, f"file_references.external_conversation is {refs.external_conversation!r}, expected {e_name!r}"))
    if refs.internal_conversation != i_name:
        problems.append((t_name, f"file_references.internal_conversation is {refs.internal_conversation!r}, expected {i_name!r}"))
    if files.external.synchronized_with != [f"I_{t}", f"T_{t}"]:
        problems.append((e_name, f"synchronized_with is {files.external.synchronized_with!r}, expected ['I_{t}', 'T_{t}']"))
    if files.internal.synchronized_with != [f"E_{t}", f"T_{t}"]:
        problems.append((i_name, f"synchronized_with is {files.internal.synchronized_with!r}, expected ['E_{t}', 'T_{t}']"))
    times = {
        files.external.last_updated,
        files.internal.last_updated,
        files.workflow.last_synchronized,
    }
    if len(times) > 1:
        problems.append((t_name, "synchronization drift: E/I last_updated and T last_synchronized differ"))
    ids = Counter(m.message_id for m in files.external.messages)
    ids.update(m.message_id for m in files.internal.messages)
    for message_id, count in ids.items():
        if count > 1:
            problems.append((e_name, f"message_id {message_id!r} appears {count} times"))
    for name, values, what in (
        (i_name, [p.update_id for p in files.internal.progress_updates], "update_id"),
        (t_name, [d.decision_id for d in files.workflow.agent_decisions], "decision_id"),
    ):
        for value, count in Counter(values).items():
            if count > 1:
                problems.append((name, f"{what} {value!r} appears {count} times"))
    return problems

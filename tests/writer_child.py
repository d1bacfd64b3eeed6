"""Child process for the crash and concurrency tests (not a test module).

Usage: python writer_child.py STORE MODE NAME COUNT
  MODE crash: add messages to tickets A and B forever-ish, printing "ok <n> <commit>"
              after each committed update (the parent kills it with SIGKILL).
  MODE retry: COUNT updates alternating tickets A and B with update_with_retry,
              printing "ok <n> <commit>" after each.
"""

from __future__ import annotations

import sys

from gitstore import Store


def main() -> None:
    path, mode, name, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    store = Store.open(path, fsync=False, lock_timeout=120)
    print("ready", flush=True)
    for n in range(count):
        t_no = "A" if n % 2 == 0 else "B"
        content = f"{name}-{n}"
        if mode == "crash":
            result = store.update(
                t_no,
                {
                    "E": {"messages": [{"message_id": content, "sender": "customer", "sender_id": name, "content": content}]},
                    "T": {"assigned_member": content},
                },
                actor=name,
            )
        else:
            result = store.update_with_retry(
                t_no,
                lambda files, c=content: {"I": {"messages": [{"message_id": c, "sender": "cs_agent", "sender_id": name, "content": c}]}},
                actor=name,
                attempts=200,
                backoff=0.002,
                max_backoff=0.05,
            )
        print(f"ok {content} {result.commit}", flush=True)
    store.close()


if __name__ == "__main__":
    main()

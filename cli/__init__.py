"""The ``gitstore`` command line: a thin layer of click commands over the Python API.

Each command parses its options, makes one API call and prints (text, or ``--json``).
Heavy modules (pygit2, pydantic, whoosh) are imported inside commands so that
``gitstore --help`` starts fast.
"""

"""Classroom rooms (issue #14): every student's phone is one system of the agent engine.

:mod:`.model` (a room, no Panel, no server), :mod:`.registry` (this process's rooms, caps
and expiry), :mod:`.handlers` (the student page and its JSON endpoints, tornado) and
:mod:`.projector` (the teacher's Panel view).
"""

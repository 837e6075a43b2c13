"""Compiled plans for trusted documents: the hot path beside the general executor.

A trusted (or stored APQ) document is validated once and compiled, per caller kind, into a plan
(plans/compiler.py) that reads only the columns it needs in a few batched statements on one
connection and shapes the rows straight into the answer (plans/runner.py), with the API's own
serializers (plans/mapping.py). plans/planner.py decides which requests a plan may answer; all
others, and any unusual variable value, go to strawberry as before. tests/test_plans.py runs
every client document both ways for every role and compares the answers.
"""

from plans.planner import Planner, answer, planner_for

__all__ = ["Planner", "answer", "planner_for"]

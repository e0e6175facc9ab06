"""IAM enforcement the emulator adds for credentials it issued (moto 5.2.5 checks an action against
Resource "*" only and ignores Condition); see README.md, "IAM enforcement".

Modules, each importing only those listed before it:
- `policy`: documents, request context, decision, wildcards, ARNs and policy variables.
- `conditions`: condition operators.
- `statements`: whether one statement applies to a request.
- `evaluation`: `evaluate(context, identity_policies, resource_policy)` -> `Decision`.
- `catalogue`: IAM's action catalogue (`known_action`, `unknown_actions`, resource ARN templates).
- `operations`: AWS operation -> IAM action(s) and resource(s), one module per service (`OPERATIONS`,
  `checks_for`, `resource_for`).
- `audit`: the replay log and its mutants; `scope`: the resource-scope lint.
- `identity`: who signed; `resources`: canonical ARNs and resource policies.
- `enforcer`: `Enforcer`, which the shim calls for every request and every `/_shim/iam` control call.
"""

"""Detection: Sigma rules loaded with pySigma, mapped onto egovops ECS events, compiled to matchers.

`ruleset.RuleSet.load(paths)` gives compiled base rules (`match(doc)`), the correlation rules pySigma
parsed (for `engine.Engine`), and a `RuleFailure` with its reason for every rule that cannot load.
`pipelines` says which egovops datasets serve each Sigma log source and how its fields map to ECS;
`ir` and `compile` turn pySigma's parsed conditions into generated Python; `fixtures` checks rules
against their test events.
"""

"""测评 reports of a stored assessment as PDF, DOCX, XLSX and JSON, each stamped with the assessment id and
the SM3 digest of the report model, so `verify` can tell a faithful report from an edited or stale one.

`model` builds the format-neutral `Report` (and its digest) from an assessment, its catalogue, the scoring
model and the 整改建议 in `advice.yaml`; one module per format writes and reads back a file; `verify`
re-derives the report model from the store, compares digests and asks the format whether the file was
edited. docs/compliance.md defines what is digested and sealed.
"""

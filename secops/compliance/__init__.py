"""等保 2.0 (GB/T 22239-2019) grading: the requirement catalogue and the scoring model as versioned data.

`catalogue/*.yaml` holds the requirement items (levels 2 and 3, general and cloud extension) and the index
of automated checks they name; `scoring/*.yaml` holds result values, category weights, risk deductions,
bands and the high-risk rules. `loader` reads both with file-and-line errors, `scoring` computes the
composite score and band, `assessment` and `store` describe and keep assessments, `diff` compares two.
docs/compliance.md explains the data and every place it differs from commonly cited figures.
"""

"""The monthly bulletin (月度通报): indicators against targets, the departments' utilisation ranked (考核),
the security figures of the month as the provincial plan reports them, drills, and 等保 assessments done
and due — as a Chinese PDF (WeasyPrint, Noto CJK, SVG charts) and an XLSX (openpyxl, native charts).

`gather` reads the stores and the estate into a `Bulletin`; `charts` draws its SVG; `as_pdf` and
`as_xlsx` write the files; `write_bulletin` writes both and describes them (path, bytes, SM3).
"""

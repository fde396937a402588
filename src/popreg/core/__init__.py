"""Domain core: plain, typed Python with no Django import.

Modules: ``idnumber`` (GB 11643 resident ID numbers), ``names`` (Chinese name
normalisation and pinyin keys), ``demography`` (indicator formulas), ``dse`` (dual-system
estimation), ``rules`` (scoring rules as data), ``privacy`` (masked names and ID numbers for public lists).
"""

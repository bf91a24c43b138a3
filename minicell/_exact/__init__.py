"""Exact and reproducible sums: results that depend on the multiset of contributions only
(DESIGN.md section 7)."""

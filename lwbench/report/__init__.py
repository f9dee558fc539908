"""Rows -> tables and files. Formatting of numbers (K/M/G) happens here and only here."""

"""Mandarin: normalisation, pinyin, tone sandhi, G2P."""

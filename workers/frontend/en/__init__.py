"""English, as upstream GPT-SoVITS reads it: normalisation, tokens, CMU/0.7b lexicon, homographs, wordsegment + GRU."""

"""English: normalisation, CMU dictionary, homographs, neural OOV G2P."""

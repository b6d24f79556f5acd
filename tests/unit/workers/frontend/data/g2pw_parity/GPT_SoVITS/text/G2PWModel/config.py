use_mask = True
use_char_phoneme = False

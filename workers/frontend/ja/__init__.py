"""Japanese: OpenJTalk G2P with prosody marks."""

"""Tests of minidl.keras: layers against minidl's modules, models, training, saving, datasets; and, where Keras 3 is
installed, against Keras itself."""

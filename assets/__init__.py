"""The lab's data: presets, lessons, study configs and the logo.

Read them as package data, ``importlib.resources.files("real_ensemble_lab.assets")``,
which finds them in a checkout and in an installed distribution alike.
"""

"""Plots of a results folder."""

"""Plots and reports built from run folders."""

from .plots import plot_loss_curves

__all__ = ["plot_loss_curves"]

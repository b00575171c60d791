"""The study report: a self-contained HTML page with embedded figures and a Markdown summary."""

from .build import write_report
from .html import SECTIONS

__all__ = ["SECTIONS", "write_report"]

"""commons-helper: put your photos on Wikimedia Commons from the photo manager you use."""

__version__ = "0.1.0"

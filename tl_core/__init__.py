"""Transfer Learning Lab core: data ingestion, backbones, training, evaluation.

This package imports no Streamlit and imports TensorFlow only inside the
functions that need it, so that listing runs or reading a dataset report
stays fast.
"""

__version__ = "0.1.0"

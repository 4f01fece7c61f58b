"""smallagent: small local models doing agentic work, with the energy bill shown."""

__version__ = "0.1.0"

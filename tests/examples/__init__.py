"""Tests of docs/examples: the example plugins install and pass the conformance suite."""

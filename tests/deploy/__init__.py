"""Tests of the container image, the compose stack and the Helm chart."""

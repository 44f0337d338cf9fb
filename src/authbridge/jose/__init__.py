"""Strict compact-JWS handling over ``cryptography`` primitives."""

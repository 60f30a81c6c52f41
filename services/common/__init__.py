"""The shared kernel: plumbing every app needs the same way. No domain models live here."""

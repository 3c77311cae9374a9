"""The pages (UI.md): one module per face, thin views over the apps' selectors and services."""

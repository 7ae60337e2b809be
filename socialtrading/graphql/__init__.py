"""The strawberry GraphQL schema (by feature: trading, social, compliance) and the Starlette
app served by uvicorn. Thin: requests become commands or read-model queries."""

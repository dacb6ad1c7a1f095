// Issuance

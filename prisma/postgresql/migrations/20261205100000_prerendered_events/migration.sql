-- The event rendered when its webhook was received (docs/decisions/054). Nullable, no default: adding it rewrites no row.
ALTER TABLE "Delivery" ADD COLUMN "prerendered" TEXT;

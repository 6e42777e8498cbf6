# Release artifacts: the agentd .deb built by `./dev deb`, in a private, encrypted,
# versioned bucket. Instances fetch it at boot with curl --aws-sigv4 (userdata/); the
# instance role may read exactly that one object (modules/compute).

data "aws_caller_identity" "current" {}

resource "aws_s3_bucket" "artifacts" {
  bucket        = "${var.name}-artifacts-${data.aws_caller_identity.current.account_id}"
  force_destroy = false
}

resource "aws_s3_bucket_public_access_block" "artifacts" {
  bucket                  = aws_s3_bucket.artifacts.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id
  versioning_configuration {
    status = "Enabled"
  }
}

# The platform key; the instance role decrypts through S3 only (kms:ViaService).
resource "aws_s3_bucket_server_side_encryption_configuration" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

data "aws_iam_policy_document" "tls_only" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.artifacts.arn, "${aws_s3_bucket.artifacts.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "artifacts" {
  bucket     = aws_s3_bucket.artifacts.id
  policy     = data.aws_iam_policy_document.tls_only.json
  depends_on = [aws_s3_bucket_public_access_block.artifacts]
}

# The package. source_hash makes a rebuilt .deb (same name, new bytes) an update;
# the same SHA-256 goes to the user data, which refuses any other file.
resource "aws_s3_object" "agentd_deb" {
  bucket       = aws_s3_bucket.artifacts.id
  key          = "agentd/${basename(var.agentd_deb_path)}"
  source       = var.agentd_deb_path
  source_hash  = filesha256(var.agentd_deb_path)
  content_type = "application/vnd.debian.binary-package"
  depends_on   = [aws_s3_bucket_server_side_encryption_configuration.artifacts]
}

variable "name" {
  description = "Name prefix of the platform."
  type        = string
}

variable "kms_key_arn" {
  description = "Platform KMS key the bucket encrypts with."
  type        = string
}

variable "agentd_deb_path" {
  description = "Local path of the .deb built by ./dev deb (build-deb/agentd_VERSION_amd64.deb)."
  type        = string
}

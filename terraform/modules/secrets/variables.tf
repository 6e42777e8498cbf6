variable "name" {
  description = "Name prefix of every resource."
  type        = string
}

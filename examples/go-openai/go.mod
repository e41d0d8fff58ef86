module github.com/ratellmiter/ratellmiter/examples/go-openai

go 1.26.0

replace github.com/ratellmiter/ratellmiter => ../..

require (
	github.com/ratellmiter/ratellmiter v0.0.0-00010101000000-000000000000
	github.com/sashabaranov/go-openai v1.43.0
	github.com/stretchr/testify v1.12.1
	go.uber.org/goleak v1.3.0
)

require go.yaml.in/yaml/v3 v3.0.5 // indirect

# Walks the PowerShell 7 AST of each file given and prints one JSON array of constructs that Windows
# PowerShell 5.1 (what SSM Run Command uses on a beacon) cannot run. Empty array = compatible.
param([Parameter(Mandatory = $true)][string[]]$Paths)
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$sevenOnlyParameters = @{
    'ConvertFrom-Json' = @('AsHashtable', 'Depth', 'NoEnumerate', 'DateKind')
    'Get-Content' = @('AsByteStream')
    'Set-Content' = @('AsByteStream')
    'ForEach-Object' = @('Parallel', 'ThrottleLimit', 'AsJob')
    '%' = @('Parallel')
    'Invoke-WebRequest' = @('SkipCertificateCheck', 'SslProtocol', 'Authentication', 'SkipHttpErrorCheck', 'Resume')
    'Invoke-RestMethod' = @('SkipCertificateCheck', 'SslProtocol', 'Authentication', 'SkipHttpErrorCheck', 'StatusCodeVariable')
    'Test-Json' = @()
}
$findings = New-Object System.Collections.ArrayList
function Add-Finding([string]$Path, $Extent, [string]$What) {
    [void]$findings.Add([ordered]@{ file = $Path; line = $Extent.StartLineNumber; what = $What; text = $Extent.Text.Split("`n")[0] })
}
foreach ($path in $Paths) {
    $tokens = $null
    $errors = $null
    $ast = [System.Management.Automation.Language.Parser]::ParseFile($path, [ref]$tokens, [ref]$errors)
    foreach ($parseError in @($errors)) { if ($null -ne $parseError) { Add-Finding $path $parseError.Extent ('parse error: ' + $parseError.Message) } }
    $nodes = $ast.FindAll({ $true }, $true)
    foreach ($node in $nodes) {
        $type = $node.GetType().Name
        if ($type -eq 'TernaryExpressionAst') { Add-Finding $path $node.Extent 'ternary operator ?:' }
        elseif ($type -eq 'PipelineChainAst') { Add-Finding $path $node.Extent 'pipeline chain && / ||' }
        elseif ($type -eq 'BinaryExpressionAst' -and $node.Operator -eq 'QuestionQuestion') { Add-Finding $path $node.Extent 'null-coalescing ??' }
        elseif ($type -eq 'AssignmentStatementAst' -and $node.Operator -eq 'QuestionQuestionEquals') { Add-Finding $path $node.Extent 'null-coalescing assignment ??=' }
        elseif (($type -eq 'MemberExpressionAst' -or $type -eq 'InvokeMemberExpressionAst' -or $type -eq 'IndexExpressionAst') -and $node.NullConditional) { Add-Finding $path $node.Extent 'null-conditional access ?. / ?[]' }
        elseif ($type -eq 'ScriptBlockAst' -and $null -ne $node.CleanBlock) { Add-Finding $path $node.Extent 'clean block' }
        elseif ($type -eq 'VariableExpressionAst' -and @('IsWindows', 'IsLinux', 'IsMacOS', 'IsCoreCLR') -contains $node.VariablePath.UserPath) { Add-Finding $path $node.Extent ('$' + $node.VariablePath.UserPath + ' does not exist on 5.1') }
        elseif ($type -eq 'CommandAst') {
            $name = $node.GetCommandName()
            if ($name -and $sevenOnlyParameters.ContainsKey($name)) {
                foreach ($element in $node.CommandElements) {
                    if ($element.GetType().Name -ne 'CommandParameterAst') { continue }
                    foreach ($parameter in $sevenOnlyParameters[$name]) {
                        if ($parameter.StartsWith($element.ParameterName, [System.StringComparison]::OrdinalIgnoreCase) -and $element.ParameterName.Length -ge 2) {
                            Add-Finding $path $node.Extent ($name + ' -' + $parameter + ' is PowerShell 7 only')
                        }
                    }
                }
            }
        }
    }
}
[Console]::Out.WriteLine((ConvertTo-Json -Compress -Depth 4 -InputObject @($findings.ToArray())))
